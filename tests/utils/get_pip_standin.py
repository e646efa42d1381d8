"""Stand-in for get-pip.py, which ansible-test downloads from a host this machine cannot reach.

ansible-test runs it with the Python of each venv it makes; ensurepip must run in a subprocess
(in-process it sets PIP_CONFIG_FILE=/dev/null and pip loses the machine's CA setting).
"""

import subprocess
import sys

subprocess.check_call(
    [sys.executable, "-m", "ensurepip", "--upgrade", "--default-pip"], stdout=subprocess.DEVNULL
)
args = [a for a in sys.argv[1:] if a not in ("--no-setuptools", "--no-wheel")]
subprocess.check_call([sys.executable, "-m", "pip", "install", "-q"] + args)
