"""`python -m tcrbench ...`, the same as the `tcrbench` command: for scripts that must use this interpreter."""

from tcrbench.cli.main import main

if __name__ == "__main__":
    main()
