import Glibc

exit(Appctl.main(CommandLine.arguments, console: .standard).rawValue)
