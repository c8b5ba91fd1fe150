"""`python -m wiredesk`."""

from wiredesk.cli import main

if __name__ == "__main__":
    main()
