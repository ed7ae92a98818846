from atomcast.cli import main

main()
