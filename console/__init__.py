"""The web console at `/`: a page that shows how the service's errors reach a person."""
