import sys

from valohai_image_lint.cli import main

sys.exit(main())
