"""Test-only stand-in for the multi-terminal app's package: each module the app's code
and test scripts import maps to termvault's names. Lives under tests/, never installed."""
