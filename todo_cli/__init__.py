"""todo: a command-line task manager backed by SQLite or PostgreSQL."""

# Kept literal (not read from package metadata) so `todo --version` costs no import;
# a test checks it against the installed distribution's version.
__version__ = "0.1.0"
