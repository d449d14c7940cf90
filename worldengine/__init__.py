"""worldengine."""
