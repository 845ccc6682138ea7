"""Local load balancers: a reverse proxy per moto ELBv2 listener, with real health checks."""
