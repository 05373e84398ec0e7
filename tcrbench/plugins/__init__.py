"""The plugin layer: hook specifications, protocols, typed parameters, the registry and the loader."""
