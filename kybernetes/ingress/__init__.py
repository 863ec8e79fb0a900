"""The ingress controller: HTTP/HTTPS reverse proxy for Ingresses of class `kybernetes`."""
