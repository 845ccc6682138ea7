"""Small helpers per AWS service: waiting with progress, and tables instead of walls of JSON."""
