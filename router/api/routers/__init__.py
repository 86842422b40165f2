"""One router per resource; each endpoint translates HTTP to one service call."""
