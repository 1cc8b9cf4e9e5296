"""KubeRay: RayService, RayCluster, the KubeRay operator, and the pure spec builders behind them."""
