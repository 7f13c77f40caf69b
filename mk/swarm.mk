# swarm.mk - extra build rules of the swarm (src/server/swarm*.c, compiled into build/tandem by the Makefile's CLI
# rule): libpq's header folder for its PostgreSQL backend, and the fuzz target of its wire messages:
#   make build/fuzz_swarm_wire      (also part of `make fuzz`)
$(BUILD)/obj/server/swarm_db_pg.o: CFLAGS += -I/usr/include/postgresql

.PHONY: fuzz
fuzz: build/fuzz_swarm_wire

build/fuzz_swarm_wire: tests/fuzz/fuzz_swarm_wire.c src/server/swarm_wire.c src/server/swarm_wire.h \
                       src/server/swarm_store.h
	@mkdir -p build
	$(FUZZ_CC) $(FUZZ_FLAGS) -Isrc/server -o $@ tests/fuzz/fuzz_swarm_wire.c src/server/swarm_wire.c -lcjson -lm
