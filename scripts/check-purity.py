#!/usr/bin/env python3
"""check-purity.py BUILD_DIR [EXTRA.o ...] — engine/ stays pure, through its
whole link closure.

Starting from BUILD_DIR/engine/*.o (plus any EXTRA objects, which the test
uses to prove the check can fail), every library object that defines a
symbol the set needs joins the set, until nothing changes.  The symbols the
closure still needs from outside the library must not include I/O, the
environment, clocks, threads, or the I/O libraries (curl, libevent, libyaml,
OpenSSL, hiredis).  A grep of engine/ alone cannot see this: a pure-looking
call into policy/ used to pull getenv() and access() in.
"""
import glob, os, re, subprocess, sys

BANNED = re.compile(r"""^(?:
    f?open|fopen64|freopen|fclose|fread|fwrite|fflush|fgets|fgetc|getc|getchar|fputs|fputc|putc|putchar|
    f?printf|v?f?printf|__f?printf_chk|__v?f?printf_chk|puts|perror|f?scanf|getline|getdelim|
    open64|openat|creat|close|read|write|pread|pwrite|readv|writev|lseek|fsync|fdatasync|ftruncate|
    stat|fstat|lstat|stat64|fstat64|lstat64|__x?stat.*|access|faccessat|unlink|rename|mkdir|rmdir|
    opendir|readdir|closedir|dup2?|pipe|fcntl|ioctl|mmap|munmap|
    socket|connect|bind|listen|accept4?|send|sendto|sendmsg|recv|recvfrom|recvmsg|shutdown|
    getaddrinfo|gethostbyname|poll|select|epoll_.*|
    getenv|secure_getenv|setenv|putenv|unsetenv|environ|
    time|clock|clock_gettime|gettimeofday|localtime(_r)?|gmtime(_r)?|mktime|timegm|nanosleep|usleep|sleep|
    pthread_.*|thrd_.*|mtx_.*|cnd_.*|fork|exec.*|system|popen|kill|signal|sigaction|raise|exit|_exit|abort|
    rand|srand|random|srandom|getrandom|
    stdin|stdout|stderr|
    curl_.*|event_.*|evhttp_.*|evbuffer_.*|bufferevent_.*|evutil_.*|yaml_.*|EVP_.*|SHA\d+.*|OPENSSL_.*|
    ERR_.*|RAND_.*|redis.*
)$""", re.X)

def syms(obj, flag):
    out = subprocess.run(["nm", flag, obj], capture_output=True, text=True, check=True).stdout
    res = set()
    for line in out.splitlines():
        parts = line.split()
        if not parts:
            continue
        if flag == "-u":
            res.add(parts[-1].split("@")[0])
        elif len(parts) == 3 and parts[1] in "TDBRVWCGSi":
            res.add(parts[2])
    return res

def main():
    build = sys.argv[1] if len(sys.argv) > 1 else "build"
    extra = sys.argv[2:]
    lib = sorted(set(glob.glob(f"{build}/engine/*.o") + glob.glob(f"{build}/policy/*.o") +
                     glob.glob(f"{build}/audit/*.o") + glob.glob(f"{build}/adapters/*/*.o")) - {f"{build}/adapters/cli/main.o"})
    if not glob.glob(f"{build}/engine/*.o"):
        print(f"check-purity: no objects under {build}/engine (build first)", file=sys.stderr)
        return 2
    defined = {}
    for o in lib:
        for s in syms(o, "--defined-only"):
            defined.setdefault(s, o)
    closure = set(glob.glob(f"{build}/engine/*.o")) | set(extra)
    why = {o: "engine" for o in closure}
    changed = True
    while changed:
        changed = False
        for o in list(closure):
            for s in syms(o, "-u"):
                d = defined.get(s)
                if d and d not in closure:
                    closure.add(d)
                    why[d] = f"{s} (needed by {os.path.relpath(o, build)})"
                    changed = True
    inside = set()
    for o in closure:
        inside |= syms(o, "--defined-only")
    bad = []
    for o in sorted(closure):
        for s in sorted(syms(o, "-u") - inside):
            if BANNED.match(s):
                bad.append((o, s))
    outside = sorted(o for o in closure if "/engine/" not in o and o not in extra)
    for o in outside:
        print(f"check-purity: the engine links {os.path.relpath(o, build)} through {why[o]}", file=sys.stderr)
    for o, s in bad:
        print(f"check-purity: {os.path.relpath(o, build)} reaches impure symbol {s}", file=sys.stderr)
    if bad:
        print("engine/ must stay pure (no I/O, environment, clocks, threads) through its link closure", file=sys.stderr)
        return 1
    print(f"check-purity: {len(closure)} objects in the engine's link closure, none impure")
    return 0

sys.exit(main())
