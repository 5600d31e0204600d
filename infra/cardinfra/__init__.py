"""Infrastructure of the Sports Card Analytics Platform, written with CDK Terrain (cdktn)."""
