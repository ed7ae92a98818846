from atomcast.cli import run

run()
