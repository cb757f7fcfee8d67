package capture
func  scratchUnformatted( ) int {return 1}
