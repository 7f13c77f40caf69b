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

# the swarm store's rules on a real database (tests/swarm/run.sh runs it on SQLite and PostgreSQL)
SWARM_STORE_OBJ := $(BUILD)/obj/server/swarm_store.o $(BUILD)/obj/server/swarm_db.o \
                   $(BUILD)/obj/server/swarm_db_sqlite.o $(BUILD)/obj/server/swarm_db_pg.o

$(BUILD)/test_swarm_store: tests/swarm/test_swarm_store.c $(SWARM_STORE_OBJ) src/server/swarm_store.h \
                           src/server/swarm_db.h
	$(CC) $(CFLAGS) -Isrc/server -o $@ $< $(SWARM_STORE_OBJ) $(LDFLAGS) -lsqlite3 -lpq -lm

all: $(BUILD)/test_swarm_store
