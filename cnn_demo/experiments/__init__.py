"""The tutorial's claims, measured: shuffled pixels, shifted digits, every preset (claims)."""
