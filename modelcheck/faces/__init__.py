"""The faces: the command line and the reports. They read results and traces only."""
