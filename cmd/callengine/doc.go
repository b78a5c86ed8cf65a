// Command callengine is the command-line tool around the callengine library.
//
//	callengine demo [--data DIR]   clients call each other through a real journal;
//	                               a second run shows the restore
//	callengine version
//
// More commands (sim, replay, backup, bench) arrive with their issues.
package main
