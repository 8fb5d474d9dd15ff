from pianokit.cli import main

main()
