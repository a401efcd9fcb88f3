import Glibc

// A test double with real behaviour: appd's embedded demo and its end-to-end
// tests run this program as their workers, so every mode is something a
// supervisor has to cope with (a socket-activated server, timed work, a CPU
// hog, a process that ignores SIGTERM, one that crashes, one that hangs).

// A peer that goes away must cost a failed write (counted), not the process:
// SIGPIPE would kill the worker on the first reset connection or, if the
// master dies, on the next log line.
signal(SIGPIPE, SIG_IGN)

switch Mode.parse(Array(CommandLine.arguments.dropFirst())) {
case .failure(let error):
    Log.err("demo-worker: \(error)\n\(Mode.usage)")
    exit(2)
case .success(.help):
    Log.out(Mode.usage)
case .success(.web(let options)):
    HTTPServer.start(.fromEnvironment(), options: options)
case .success(.queue(let interval)):
    QueueWorker.run(.fromEnvironment(), interval: interval)
case .success(.cpu):
    CPUBurner.run(.fromEnvironment())
case .success(.ignoreTerm):
    TermIgnorer.run(.fromEnvironment())
case .success(.crash(let delay)):
    Crasher.run(.fromEnvironment(), after: delay)
case .success(.hang(let delay)):
    Hanger.run(.fromEnvironment(), after: delay)
}
