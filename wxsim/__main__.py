from wxsim.server import main

main()
