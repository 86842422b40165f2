"""``python -m eventrouter.router.cli``: the ``eventrouter`` command without its script."""

from eventrouter.router.cli import main

if __name__ == "__main__":
    main()
