# store.mk - the results store's extra build rules (src/server/store*.c, owned by the store): libpq's header folder
# for the PostgreSQL backend, and the store's test program, which links only the store objects (not the engine):
#   make build/test_store     then   tests/server/test_store.sh
STORE_OBJ := $(BUILD)/obj/server/store.o $(BUILD)/obj/server/store_sqlite.o $(BUILD)/obj/server/store_pg.o

$(BUILD)/obj/server/store_pg.o: CFLAGS += -I/usr/include/postgresql

$(BUILD)/test_store: tests/server/test_store.c $(STORE_OBJ) src/server/store.h src/server/store_backend.h
	$(CC) $(CFLAGS) -Isrc/server -o $@ $< $(STORE_OBJ) $(LDFLAGS) -lcjson -lsqlite3 -lpq

all: $(BUILD)/test_store

# the libFuzzer target for POST /api/results bodies (store_insert), built like the engine's fuzz targets:
#   make build/fuzz_store_doc && build/fuzz_store_doc -max_total_time=60 tests/fuzz/store_doc_seeds
build/fuzz_store_doc: tests/fuzz/fuzz_store_doc.c src/server/store.c src/server/store_sqlite.c src/server/store_pg.c \
                      src/server/store.h src/server/store_backend.h
	$(FUZZ_CC) $(FUZZ_FLAGS) -Isrc/server -I/usr/include/postgresql -o $@ tests/fuzz/fuzz_store_doc.c \
	    src/server/store.c src/server/store_sqlite.c src/server/store_pg.c -lcjson -lsqlite3 -lpq
