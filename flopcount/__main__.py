from flopcount.cli import main

main()
