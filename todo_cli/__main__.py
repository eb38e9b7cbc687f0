from todo_cli.cli import main

main()
