# Thin wrapper over ./dev, for people who type `make`. ./dev is the source of truth.
.PHONY: setup deps run test lint validate bench load
setup deps run test lint validate bench load:
	./dev $@
