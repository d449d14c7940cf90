import sys

from worldengine.cli import main

sys.exit(main())
