"""The local AWS: one WSGI process serving labkit's own Code* services, git over HTTP, and moto."""
