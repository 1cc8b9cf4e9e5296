"""GkeTpuCluster: its arguments, their pure plan, and the component."""
