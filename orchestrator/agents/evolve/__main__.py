import sys

from orchestrator.agents.evolve._cli import main

sys.exit(main())
