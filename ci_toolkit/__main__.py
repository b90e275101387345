from ci_toolkit.cli import main

main()
