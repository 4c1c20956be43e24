from kgsolver.pipeline.cli import main

main()
