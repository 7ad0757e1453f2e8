"""Pages served by the app itself: the store counter page, a client of the store API."""
