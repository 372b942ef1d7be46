"""The local cloud: moto's Secrets Manager and Lambda, a Secret Manager REST emulator,
a fake Customer.io, and the harnesses that wire the rotator to them.

A product of its own: the drill, the benches and the test suite all import it.
"""
