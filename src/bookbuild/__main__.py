import logging
import os
import sys

from bookbuild.cli import main

rc = main()
# Every file is written and closed by now. Skip the interpreter's teardown, which frees a render's
# whole Sphinx environment object by object (about a second, as long as a prose edit's page
# render takes); the operating system reclaims the memory at once. Logs and output are flushed first.
logging.shutdown()
sys.stdout.flush()
sys.stderr.flush()
os._exit(0 if rc is None else rc if isinstance(rc, int) else 1)
