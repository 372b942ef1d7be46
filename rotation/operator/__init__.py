"""The operator CLI's machinery: stack config, cloud backends, and what each command decides."""
