"""Container runtimes behind the CRI-shaped `RuntimeService` Protocol (api.py); `process` runs pods as processes."""
