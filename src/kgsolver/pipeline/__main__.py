from kgsolver.pipeline.serve.cli import main

main()
