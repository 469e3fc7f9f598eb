import sys

from modelcheck.faces.cli import main

sys.exit(main())
