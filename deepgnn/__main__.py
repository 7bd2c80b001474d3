from deepgnn.cli import main

raise SystemExit(main())
