import Foundation

public enum Signals {
    /// A parent may start us with signals blocked (Foundation's Process does, from some threads);
    /// unblock the ones that steer the daemon so SIGTERM and SIGHUP always arrive.
    public static func unblockControlSignals() {
        var set = sigset_t()
        sigemptyset(&set)
        for signal in [SIGTERM, SIGINT, SIGHUP] { sigaddset(&set, signal) }
        pthread_sigmask(SIG_UNBLOCK, &set, nil)
    }
}
