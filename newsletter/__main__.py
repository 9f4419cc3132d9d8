from newsletter.cli import run

if __name__ == "__main__":  # not when a worker process (send/signpool.py) imports it
    run()
