"""The semantic map: 2-D layout, clusters, persistence and the service that keeps maps live."""
