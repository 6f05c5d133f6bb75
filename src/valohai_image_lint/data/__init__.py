"""Data tables shipped with the linter, as Python so that loading them costs nothing."""
