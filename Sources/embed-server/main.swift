import ArgumentParser

EmbedServer.main(ServeCommand.normalizeArguments(Array(CommandLine.arguments.dropFirst())))
