"""One module per sandbox backend; each registers itself with `sandbox._backend.register`."""
