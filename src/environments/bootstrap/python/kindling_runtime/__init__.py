"""The pieces of Kindling's python runtime client; bootstrap.py is the entry point."""
